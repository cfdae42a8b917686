"""Liveness route."""

from __future__ import annotations

import json

from chalice.app import Blueprint, Response

from chalicelib.http.errors import json_response

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def health() -> Response:
    """Answers without touching AWS, so a probe costs nothing."""
    return json_response(json.dumps({"status": "ok", "service": "dx-desk"}), 200, {})

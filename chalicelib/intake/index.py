"""The API root: a person who opens it lands on the consultation form."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.intake.i18n import language

bp = Blueprint(__name__)


@bp.route("/", methods=["GET"])
def index() -> Response:
    """Forwards to the form's input page (relative, so a stage prefix such as /prod/ is kept)."""
    params = bp.current_request.query_params
    lang = language(params.get("lang") if params else None)
    return Response(body="", status_code=302, headers={"Location": f"form/input?lang={lang}"})

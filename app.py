"""The Chalice application: creates the app and registers the blueprints, nothing else."""

import gc

# Cold start: no garbage collection while the modules load. Loading creates some hundred
# thousand long-lived objects and almost no garbage (about 130 collections find under a
# thousand objects), and those collections cost ~15% of `import app` (docs/figures.md).
# Collection resumes at the end, with what was loaded frozen out of every later scan.
gc.disable()

import logging

from chalice.app import Chalice

from chalicelib.admin.auth import bp as admin_auth_bp
from chalicelib.admin.routes.access import bp as admin_access_bp
from chalicelib.admin.routes.cases import bp as admin_cases_bp
from chalicelib.admin.routes.experts import bp as admin_experts_bp
from chalicelib.admin.routes.privacy import bp as admin_privacy_bp
from chalicelib.admin.routes.reports import bp as admin_reports_bp
from chalicelib.admin.routes.roster_csv import bp as admin_roster_csv_bp
from chalicelib.admin.routes.staff import bp as admin_staff_bp
from chalicelib.admin.routes.taxonomy import bp as admin_taxonomy_bp
from chalicelib.console.routes import bp as console_bp
from chalicelib.http.health import bp as health_bp
from chalicelib.http.middleware import bp as middleware_bp
from chalicelib.intake.form import bp as form_bp
from chalicelib.intake.index import bp as index_bp
from chalicelib.intake.routes import bp as intake_bp
from chalicelib.links.routes import bp as actions_bp
from chalicelib.logs import bp as logs_bp
from chalicelib.mailin.handler import bp as inbound_jobs_bp
from chalicelib.openapi import bp as openapi_bp
from chalicelib.outbox.handler import bp as outbox_jobs_bp
from chalicelib.outbox.ses_events import bp as ses_events_bp
from chalicelib.requester.routes import bp as requester_bp
from chalicelib.scheduled.handler import bp as schedule_jobs_bp
from chalicelib.survey.routes import bp as survey_bp

# configure_logs=False: Chalice's own logger (the traceback of a 500) goes through the
# root logger like the rest, so Lambda formats it too; chalicelib/logs.py has the rest.
app = Chalice(app_name="dx-desk", configure_logs=False)
# First: its middleware (JSON logs in Lambda) must reach every handler registered after it.
app.register_blueprint(logs_bp)
app.register_blueprint(middleware_bp)
app.register_blueprint(index_bp)
app.register_blueprint(health_bp)
app.register_blueprint(intake_bp)
app.register_blueprint(openapi_bp)
app.register_blueprint(form_bp)
app.register_blueprint(actions_bp)
app.register_blueprint(admin_auth_bp)
app.register_blueprint(admin_access_bp)
app.register_blueprint(admin_experts_bp)
app.register_blueprint(admin_privacy_bp)
app.register_blueprint(admin_staff_bp)
app.register_blueprint(admin_taxonomy_bp)
app.register_blueprint(admin_roster_csv_bp)
app.register_blueprint(admin_cases_bp)
app.register_blueprint(admin_reports_bp)
app.register_blueprint(outbox_jobs_bp)
app.register_blueprint(inbound_jobs_bp)
app.register_blueprint(schedule_jobs_bp)
app.register_blueprint(ses_events_bp)
app.register_blueprint(requester_bp)
app.register_blueprint(survey_bp)
app.register_blueprint(console_bp)
# The console's CSV upload (multipart) reaches the function as bytes: Shift_JIS survives.
app.api.binary_types.append("multipart/form-data")

# Lambda's root logger stops at WARNING; the desk's own modules log ids at INFO.
logging.getLogger("chalicelib").setLevel(logging.INFO)

gc.freeze()
gc.enable()

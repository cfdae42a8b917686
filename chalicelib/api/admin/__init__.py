"""The admin API under /admin: roster, staff, taxonomy, cases, reports, personal data."""

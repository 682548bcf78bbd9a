"""`reconciler doctor`: a read-only first contact with the real API that checks every
assumption reconciler makes about it, and a report to send back.

- `expect`: what reconciler assumes about each API, with the part of the API notes it comes from;
- `checks`: pure comparisons of one answer with those assumptions;
- `probe`: the GET requests, and the report they fill (`diagnose`);
- `compare`: every cluster and answer collected, compared and tallied into the report;
- `model`: the report; `render`: the report as text and JSON.
"""

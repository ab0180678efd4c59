"""The cross-company probe: nothing of company B's may reach company A's people, or change by them.

Two companies get the same kinds of things (marked_data.py): a workflow uploaded from a sample
bundle and edited, releases with notes and a rollback, a role link, a running and a finished
ticket, a file. Every text of B's carries the marker "bravo" (keys and field names as
"bravo_…", free text as "Bravo …"); nothing of A's does, and the probe checks both.

Then, as A's people (and a platform operator, and a stranger):

1. the walk (routes.py): every registered URL pattern — the role sites, Django's /admin/, the
   portal and accounts pages — filled with B's ids, requested with GET and with POST;
2. the replay (replay.py, forms.py): every POST form on the pages A opens with its own ids,
   submitted unchanged (it must be accepted, or the rest proves little), then with each id
   field swapped for B's id of the same model, and sent to the same URL filled with B's ids;
3. the exports and dashboards (exports.py): every export in every format; every dashboard
   before B exists and after.
4. the API walk (api.py): every URL under /api/ filled with B's ids, with every method, as A's
   people by bearer token; then with A's session alone (the API must answer 401), no token and
   a forged one. Answers must be JSON in the {"detail", "errors"} shape when they are errors.

Detectors (detect.py): the marker anywhere in a response — body, a file's text (an XLSX's
XML), a redirect — except in what A itself typed; any change to B's rows, revisions or object
permissions (marked_data.snapshot); any 5xx; and a URL parameter the walk cannot fill (for the
API, a route without an entry in api.API_FILLERS).
"""

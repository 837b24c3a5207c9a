"""The reference for ``benchmarks/status_poll_vs_bare.py``: a minimal Django app of
its own (settings, one URL, WSGI entry), sharing nothing with the project but
Django itself. ``CommonMiddleware`` only; one view returning a constant JSON body.

    cd benchmarks && gunicorn -k gthread --workers 2 --threads 8 bare_reference.wsgi
"""

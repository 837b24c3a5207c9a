"""The REST API (DRF): views call ``analysis.services``; see ``urls.py`` for the paths."""

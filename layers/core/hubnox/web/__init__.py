"""Jinja2 templates and static files for the pages hubnox serves."""

"""Jinja2 templates for the cloud shims (a package so the templates ship as package data)."""

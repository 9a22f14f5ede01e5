"""Publishing the approved policy to Postfix: table files and a live socketmap.

``model`` (what is published) → ``tables`` (pure mapping to Postfix table entries,
with the names re-validated on the way out) → ``files`` (atomic table files) and
``netstring`` / ``snapshot`` / ``socketmap`` (the live socketmap server). The
database enters only through ``store``.
"""

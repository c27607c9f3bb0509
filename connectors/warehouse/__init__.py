"""The warehouse: the one place padu runs SQL, on embedded DuckDB or PostgreSQL.

``engine`` (``Warehouse``: connections, reads and writes, publishing) with ``connection``
(URLs, engines, connection errors), ``schema`` (bringing the schema up to date), ``bulk`` (the
native write paths) and ``publishing`` (a region's publishing transaction); ``tables`` and
``views`` (what is stored and what statisticians query), ``roles`` (who may read what),
``migrate`` and ``migrations`` (schema revisions), ``locks`` and ``region_lock`` (taking turns),
``staging`` (a run's working tables), ``retention`` (purging superseded snapshots) and
``review`` (clerical decisions).
"""

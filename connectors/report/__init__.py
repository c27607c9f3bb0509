"""The auditor's report: one self-contained HTML page and its CSV exports (``page``), with small
inline SVG charts (``charts``)."""

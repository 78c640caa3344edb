"""Reporting: claim results (``result``), the text table (``table``), atomic writes that never
lose a user's file (``atomic``), the suite runner that writes ``report.json`` and the arrays
(``suite``), and the figures drawn from saved results (``plots``, ``figures``, ``figstyle``)."""

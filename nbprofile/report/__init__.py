"""What stored records look like to people: footers, tables, comparisons, totals and report files.

Everything here is a pure function of records (and, for files, of a store):
:mod:`~nbprofile.report.footer` under each cell, :mod:`~nbprofile.report.tables`
for history, :mod:`~nbprofile.report.compare` and :mod:`~nbprofile.report.totals`
for runs, and the file formats behind one registry (:mod:`~nbprofile.report.registry`).
"""

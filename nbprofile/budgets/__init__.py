"""Budgets: the grammar (:mod:`~nbprofile.budgets.grammar`), verdicts
(:mod:`~nbprofile.budgets.evaluate`), session totals (:mod:`~nbprofile.budgets.session`)
and budget files for CI (:mod:`~nbprofile.budgets.file`). Pure: nothing here reads a
store or runs a cell.
"""

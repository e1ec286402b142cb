"""Reporting and KPIs (manual ch. 1.1, 7.4 and 8): the figures, their goals and the statistics of a
champion/challenger comparison. The figures are computed in the database (store); this package
holds what they mean."""

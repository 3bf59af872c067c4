"""CTOPlaqueStatsLib: cohort statistics of CTO lesion measurements (Qt-free).

Reproduces the statistical analysis of Xing et al., Quant Imaging Med Surg 2022;12:3625
(group comparisons, univariable and adjusted logistic regression, observer reproducibility).
"""

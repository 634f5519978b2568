"""An H-alpha line statistic that stays honest on stars the model has never seen.

A line adds one fixed vector to a star's 110 XP coefficients (its image through the Weiler LSF).
A continuum model predicts, from everything the line cannot touch, where the star's coefficients
would lie along that vector without a line, and how uncertain that prediction is; the residual
over its total uncertainty (noise plus learned intrinsic scatter) is the line's S/N.
"""

"""The fast kernel tiers: which calls a board's tier takes (select), the DSP extension's
layouts and requantization words (dsp, common, add_lut) and Helium's (mve).

May import compiler modules only.
"""

# Layerwise pruning ratios (Section 3.4): the LPR figures 6, 8 and A17 read the find chains' mask files;
# Figure 7 (match-LPR) and Figures A15/A16 (local pruning) run their own LPR-constrained chains:
# train with H_find -> prune_match_lpr / prune_local (mask and ticket) -> train_find_lpr -> ... (see
# findeval.lpr). Which runs each figure needs lives in findeval.lpr, their paths in findeval.paths.

from findeval.lpr import plan as lpr


# the grammars lpr.chain_spec parses (and H.parse for href)
wildcard_constraints:
    href=SLUG,
    chain=lpr.CHAIN,
    constrained=lpr.CONSTRAINED,

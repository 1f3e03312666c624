"""(to be written)"""

RECIPES = ()

"""The fraud rules: the rule file, the vectorised engine over columns and the history it reads."""

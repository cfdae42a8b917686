"""The page and mail gallery (`make gallery`): every page and mail as files, for people to look at."""

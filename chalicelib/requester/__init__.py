"""The requester's side of a case: their own page, adding information, withdrawing, the lookup."""

"""Hot and cold tiers (冷热分层): the policy moving old records to cold volumes, promotion, prefetch."""

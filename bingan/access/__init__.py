"""Who may do what: users, roles, login, the access policy and the audit trail."""

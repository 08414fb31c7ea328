"""Who a user is, vouched for by the hospital: single sign-on (OIDC, CAS) and CA certificate login."""

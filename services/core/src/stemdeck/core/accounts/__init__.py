"""Who may do what: users, their passwords, sessions and API tokens.

This package needs only core (the database); the HTTP sign-in lives in the API.
"""

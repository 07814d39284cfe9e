"""Webhooks: a user's endpoints hear of their jobs' events, signed as Standard Webhooks
(https://www.standardwebhooks.com) says, delivered at least once from an outbox."""

"""The reminder sweep and its scheduler: the domain's reminder policy run against storage and Slack."""

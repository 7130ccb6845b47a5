"""Block Kit builders: the card, modals and their fields, App Home, the reminder digest, the
export message and the mrkdwn they share. They build JSON and never register a listener."""

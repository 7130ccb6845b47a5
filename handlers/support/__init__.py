"""What listeners share: the services in Bolt's context, ``guarded`` and its errors, who may
change what, sealed modal metadata, the postmortem a modal names, and refreshing the card
and App Home after a change. Listener modules import from here, never from each other."""

"""Who may connect: device credentials, the identities they prove, the server's own certificate."""

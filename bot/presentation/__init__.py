"""How the bot's words look in Slack: safe mrkdwn for outside text (`mrkdwn`) and Block Kit within Slack's limits
(`blocks`). Pure code producing plain dicts; every path that shows something in Slack goes through here."""

"""DynamoDB repositories: connections, settings, runs, deal links, cursors, leases."""

"""hubnox: HubSpot deals to draft Fortnox invoices and orders.

The layer package shared by every function: clients, stores, sync logic and web templates.
"""

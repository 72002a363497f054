"""The finance flow: read what finance needs from Shopify and Peoplevox, reconcile, export."""

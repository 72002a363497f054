"""In-memory stand-ins of Shopify and Peoplevox that obey the orders flow's ports, strictly."""

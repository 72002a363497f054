"""Local stand-ins for Shopify and Peoplevox that speak the real wire formats over HTTP.

The demo, the tests and the benchmarks run against them; production points the same clients
at the real services.
"""

"""The API's domains: one subpackage per tag of openapi.yaml."""

"""Tenancy: the one place that keeps each company's records to itself.

Import the public pieces from here: `company_context`, `acting_as`, `current_company`,
`get_owned_or_404`, and the exceptions.
"""

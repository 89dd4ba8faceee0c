"""Domain values and rules: money, members, invoices, payments, staff, the visit."""

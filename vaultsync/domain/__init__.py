"""Plain domain types shared by every layer: money, enums, identifiers, errors.

Nothing here touches a database or a UI, so it is safe to import from anywhere.
"""

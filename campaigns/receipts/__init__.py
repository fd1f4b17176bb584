"""Receipts: every vendor report reaches its call record exactly once, whether pushed or pulled.

``events`` stores each raw event (``CallbackEvent``) first, then parses it with the account's adapter
and applies it; ``reports`` matches reports to calls and applies them (a conditional UPDATE from an
open state to a final one, so a repeated or late receipt changes nothing and a final state never
moves back; a report that matches no call is kept, event state ``unmatched``, for reconciliation);
``pulls`` fetches what pull-only vendors hand out.
"""

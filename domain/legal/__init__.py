"""Legal escalation: the legal policy (versioned data), the conditions of a referral, referrals
made and approved by different people, and the legal actions of a case in stage LEGAL (or
written off after an approved referral)."""

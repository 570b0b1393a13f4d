"""Contact channels other than the agent's phone: SMS (``sms.py``). The online questionnaire
lives in ``visits/questionnaire.py``."""

"""Contact channels other than the agent's phone: SMS (``sms.py``) and the online
questionnaire (``questionnaire.py``)."""

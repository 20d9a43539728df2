"""One module per pipeline step; each exposes a function that returns the step.

``pipeline/definition.py`` only wires them::

    Preprocess -> Train -> Evaluate -> CheckQuality
        --if-->   RegisterModel
                  CreateModel -> CheckDeploy -> EndpointConfig -> Endpoint -> RecordChampion
        --else--> QualityGateFailed
"""

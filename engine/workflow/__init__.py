"""The workflow runtime over SpiffWorkflow: parsed specs, instances, their steps and their stored form."""

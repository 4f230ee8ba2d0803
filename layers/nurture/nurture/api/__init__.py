"""The public HTTP API's contract (`nurture.api.openapi`): the OpenAPI document generated
from the routes the functions declare, and the models of what those routes read and answer."""

"""Contains all the data models used in inputs/outputs"""

from .accepted import Accepted
from .action_enum import ActionEnum
from .analysis_status_enum import AnalysisStatusEnum
from .analyze_request import AnalyzeRequest
from .analyze_upload_request import AnalyzeUploadRequest
from .audit_entry import AuditEntry
from .audit_trail import AuditTrail
from .batch import Batch
from .batch_accepted import BatchAccepted
from .batch_counts import BatchCounts
from .batch_item import BatchItem
from .batch_status_enum import BatchStatusEnum
from .batch_submit_docs_request import BatchSubmitDocsRequest
from .blank_enum import BlankEnum
from .budget import Budget
from .callback_secret import CallbackSecret
from .contact_sheet import ContactSheet
from .endpoint_secret import EndpointSecret
from .error import Error
from .error_body import ErrorBody
from .error_body_details import ErrorBodyDetails
from .error_info import ErrorInfo
from .estimate import Estimate
from .estimate_basis import EstimateBasis
from .events_enum import EventsEnum
from .frame import Frame
from .history_item import HistoryItem
from .links import Links
from .media_history_list_media_type import MediaHistoryListMediaType
from .media_history_list_ordering_item import MediaHistoryListOrderingItem
from .media_history_list_status_item import MediaHistoryListStatusItem
from .media_type_enum import MediaTypeEnum
from .ocr import Ocr
from .options import Options
from .options_request import OptionsRequest
from .options_request_response_schema import OptionsRequestResponseSchema
from .options_response_schema import OptionsResponseSchema
from .paginated_history_item_list import PaginatedHistoryItemList
from .patched_webhook_endpoint_changes_request import PatchedWebhookEndpointChangesRequest
from .period_budget import PeriodBudget
from .progress import Progress
from .provider_enum import ProviderEnum
from .result import Result
from .stage_enum import StageEnum
from .status import Status
from .transcript import Transcript
from .transcript_segment import TranscriptSegment
from .usage import Usage
from .usage_line import UsageLine
from .usage_period import UsagePeriod
from .webhook_endpoint import WebhookEndpoint
from .webhook_endpoint_created import WebhookEndpointCreated
from .webhook_endpoint_input_request import WebhookEndpointInputRequest

__all__ = (
    "Accepted",
    "ActionEnum",
    "AnalysisStatusEnum",
    "AnalyzeRequest",
    "AnalyzeUploadRequest",
    "AuditEntry",
    "AuditTrail",
    "Batch",
    "BatchAccepted",
    "BatchCounts",
    "BatchItem",
    "BatchStatusEnum",
    "BatchSubmitDocsRequest",
    "BlankEnum",
    "Budget",
    "CallbackSecret",
    "ContactSheet",
    "EndpointSecret",
    "Error",
    "ErrorBody",
    "ErrorBodyDetails",
    "ErrorInfo",
    "Estimate",
    "EstimateBasis",
    "EventsEnum",
    "Frame",
    "HistoryItem",
    "Links",
    "MediaHistoryListMediaType",
    "MediaHistoryListOrderingItem",
    "MediaHistoryListStatusItem",
    "MediaTypeEnum",
    "Ocr",
    "Options",
    "OptionsRequest",
    "OptionsRequestResponseSchema",
    "OptionsResponseSchema",
    "PaginatedHistoryItemList",
    "PatchedWebhookEndpointChangesRequest",
    "PeriodBudget",
    "Progress",
    "ProviderEnum",
    "Result",
    "StageEnum",
    "Status",
    "Transcript",
    "TranscriptSegment",
    "Usage",
    "UsageLine",
    "UsagePeriod",
    "WebhookEndpoint",
    "WebhookEndpointCreated",
    "WebhookEndpointInputRequest",
)

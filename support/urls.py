"""URLs of the support app, included at the site root (paths here are full paths)."""

from django.urls import path

from . import api, views

app_name = "support"
urlpatterns = [
    path("support/chat/", views.chat_page, name="chat"),
    path("support/console/", views.console_page, name="console"),
    path("support/metrics/", views.metrics_page, name="metrics"),
    path("api/support/conversations/", api.ConversationStartApi.as_view(), name="api-conversation-start"),
    path(
        "api/support/conversations/<int:conversation_id>/messages/",
        api.ConversationMessagesApi.as_view(),
        name="api-messages",
    ),
    path("api/support/conversations/<int:conversation_id>/csat/", api.ConversationCsatApi.as_view(), name="api-csat"),
    path("api/support/agent/conversations/", api.AgentQueueApi.as_view(), name="api-agent-queue"),
    path(
        "api/support/agent/conversations/<int:conversation_id>/",
        api.AgentConversationApi.as_view(),
        name="api-agent-conversation",
    ),
    path(
        "api/support/agent/conversations/<int:conversation_id>/seen/", api.AgentSeenApi.as_view(), name="api-agent-seen"
    ),
    path(
        "api/support/agent/conversations/<int:conversation_id>/claim/",
        api.AgentClaimApi.as_view(),
        name="api-agent-claim",
    ),
    path(
        "api/support/agent/conversations/<int:conversation_id>/assign/",
        api.AgentAssignApi.as_view(),
        name="api-agent-assign",
    ),
    path(
        "api/support/agent/conversations/<int:conversation_id>/reply/",
        api.AgentReplyApi.as_view(),
        name="api-agent-reply",
    ),
    path(
        "api/support/agent/conversations/<int:conversation_id>/note/", api.AgentNoteApi.as_view(), name="api-agent-note"
    ),
    path(
        "api/support/agent/conversations/<int:conversation_id>/resolve/",
        api.AgentResolveApi.as_view(),
        name="api-agent-resolve",
    ),
    path(
        "api/support/agent/messages/<int:message_id>/intent/",
        api.AgentCorrectIntentApi.as_view(),
        name="api-agent-correct-intent",
    ),
    path("api/support/agent/canned/", api.AgentCannedApi.as_view(), name="api-agent-canned"),
    path("api/support/agent/intents/", api.AgentIntentsApi.as_view(), name="api-agent-intents"),
]

from django.contrib import admin

from .models import CannedResponse, Conversation, FAQEntry, Handoff, IntentCorrection, Message, PolicyText


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["created_at", "sender", "author", "text", "intent", "confidence"]
    readonly_fields = fields
    can_delete = False


class HandoffInline(admin.TabularInline):
    model = Handoff
    extra = 0
    readonly_fields = ["created_at", "reason", "summary", "agent", "assigned_at", "assigned_by_round_robin"]
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "language", "assigned_agent", "csat", "created_at", "updated_at"]
    list_filter = ["status", "language", "csat"]
    raw_id_fields = ["user", "assigned_agent"]
    readonly_fields = ["state", "handed_off_at", "first_agent_reply_at", "resolved_at"]
    inlines = [MessageInline, HandoffInline]


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ["conversation", "reason", "agent", "created_at", "assigned_at", "assigned_by_round_robin"]
    list_filter = ["reason"]
    raw_id_fields = ["conversation", "agent"]


@admin.register(IntentCorrection)
class IntentCorrectionAdmin(admin.ModelAdmin):
    list_display = ["message", "intent", "corrected_by", "created_at"]
    list_filter = ["intent"]
    raw_id_fields = ["message", "corrected_by"]


@admin.register(FAQEntry)
class FAQEntryAdmin(admin.ModelAdmin):
    list_display = ["question", "question_zh", "language", "is_active", "updated_at"]
    list_filter = ["is_active", "language"]
    search_fields = ["question", "question_zh", "answer"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title"]
    search_fields = ["title", "text"]


@admin.register(PolicyText)
class PolicyTextAdmin(admin.ModelAdmin):
    list_display = ["key", "updated_at"]

"""The Django admin's user page deactivates through the same service as the command and the
Admin REST, so unticking *Active* also revokes the user's tokens and tells gateways."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from keymanager.services import user_activate, user_deactivate
from portal.errors import ApplicationError

User = get_user_model()


class TidegateUserAdmin(UserAdmin):
    def save_model(self, request, obj, form, change):
        toggled = change and "is_active" in form.changed_data
        deactivating = toggled and not obj.is_active
        if toggled:
            obj.is_active = not obj.is_active  # the service makes the change, with its side effects
        super().save_model(request, obj, form, change)
        if not toggled:
            return
        try:
            if deactivating:
                revoked = user_deactivate(user=obj, acting_user=request.user)
                self.message_user(request, f"Deactivated {obj.get_username()}; {revoked} token(s) revoked.")
            else:
                user_activate(user=obj, acting_user=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.description, messages.ERROR)
        obj.refresh_from_db(fields=["is_active"])


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, TidegateUserAdmin)
